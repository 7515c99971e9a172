"""The WeChat official-account protocol, IO-free: signatures, AES envelope, XML in and out.

Both the gateway (our side) and the simulator (the platform's side) build on these
pieces, so a test can check one against the other and against fixed vectors.
"""
