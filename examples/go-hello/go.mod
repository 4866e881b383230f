module baton.example/go-hello

go 1.19
