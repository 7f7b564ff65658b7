"""What the tools produce on its way into the conversation: shortened to its
budget, the whole kept in private files."""
