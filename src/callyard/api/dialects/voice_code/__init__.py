"""The voice verification-code dialect: `POST /api/voiceCode` (seed 000)."""
