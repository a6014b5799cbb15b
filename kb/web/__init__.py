"""kb.web: see DESIGN.md; built in a later issue."""
