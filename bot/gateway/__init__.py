"""The one door: WeChat official-account webhook and web chat in, Rasa behind it."""
