"""One module per compression stage; each exposes a class implementing ``Stage``."""
