"""callyard: an open-source cloud call-center platform."""

__version__ = "0.1.0"
