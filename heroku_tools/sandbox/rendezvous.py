"""Placeholder: replaced by the rendezvous implementation."""
import socket


class RendezvousServer:
    def __init__(self, sandbox, port=0):
        self.sandbox = sandbox
        s = socket.socket(); s.bind(("127.0.0.1", port)); self.port = s.getsockname()[1]; s.close()

    def start(self):
        pass

    def stop(self):
        pass
