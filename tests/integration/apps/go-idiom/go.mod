module baton.example/go-idiom

go 1.19

require baton.dev/contrib/go/baton v0.0.0

replace baton.dev/contrib/go/baton => ../../../../contrib/go/baton
