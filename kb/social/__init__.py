"""kb.social: see DESIGN.md; built in a later issue."""
