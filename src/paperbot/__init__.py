"""paperbot: Hugging Face Daily Papers and AI tech-blog posts, summarised in Korean, for Discord and Slack."""

__version__ = "0.1.0"
