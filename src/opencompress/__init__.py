"""OpenCompress: an OpenAI-compatible gateway that compresses prompts."""

__version__ = "0.1.0"
