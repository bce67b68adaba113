"""Sources: Hugging Face Daily Papers, blog feeds and page scrapers. Each fetches items for a day."""
