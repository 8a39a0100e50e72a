"""The tenant emulator: Entra token endpoint, Graph v1.0 and Exchange (WSMan/PSRP) over loopback HTTPS."""
