module baton.dev/contrib/go/baton

go 1.19
