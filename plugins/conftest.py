"""The template is a folder to copy, not an installed plugin: its tests run from
tests/plugins/test_template.py (with its sources on the path), not when collecting plugins/."""

collect_ignore = ["template"]
