"""The local stack: the synthesized templates served on loopback with no AWS account (`python -m local`)."""
