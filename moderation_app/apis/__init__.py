"""HTTP views: accounts.py (sign-in, API keys), moderation.py (moderate, decisions)."""
