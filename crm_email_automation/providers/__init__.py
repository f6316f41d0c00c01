"""Clients of the delivery providers' HTTP APIs: plain Python, no ORM, so that the models
hold the decisions and these modules only speak each provider's protocol."""
