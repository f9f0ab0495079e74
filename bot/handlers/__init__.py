"""Telegram handlers by role; bot/app.py registers them (the order there matters)."""
