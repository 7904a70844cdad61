"""Studio's engine on other machines: `studio serve` (a Ray Serve application) and the client
that makes a remote engine look like a local one. Qt-free."""
