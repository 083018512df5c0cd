"""The SIP switch: registrar, call legs, media relay. The only place that speaks SIP."""
