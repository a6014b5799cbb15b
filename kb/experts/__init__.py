"""kb.experts: see DESIGN.md; built in a later issue."""
