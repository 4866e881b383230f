module baton.example/go-hello

go 1.19

require baton.dev/contrib/go/baton v0.0.0

// The helper lives in this repository; outside it, point this at your copy of contrib/go/baton.
replace baton.dev/contrib/go/baton => ../../contrib/go/baton
