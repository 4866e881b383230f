module baton.bench/go-plain

go 1.19
