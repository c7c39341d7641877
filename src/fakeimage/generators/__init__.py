"""Generators trained here on CIFAKE's REAL images, whose samples become extra FAKE sources."""
