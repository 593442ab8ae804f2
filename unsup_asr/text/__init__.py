"""Text side: phonemization, lexicons and n-gram language models."""
