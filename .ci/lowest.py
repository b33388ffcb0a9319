"""Print pip constraints pinning each runtime and test dependency to the lowest version pyproject.toml allows."""

import re
import sys
import tomllib

with open("pyproject.toml", "rb") as file:
    project = tomllib.load(file)["project"]
for requirement in project["dependencies"] + project["optional-dependencies"]["test"]:
    found = re.match(r"([A-Za-z0-9_.-]+)\s*>=\s*([^,;\s]+)", requirement)
    if found is None:
        sys.exit(f"lowest.py: {requirement!r} has no lower bound (>=): give it one")
    print(f"{found.group(1)}=={found.group(2)}")
