"""The checks ``graders grade`` runs in its own process, as pytest files."""
