"""Print the corpus index as JSON: python -m tests.corpus"""

import json
import sys

from .index import ENTRIES

json.dump(ENTRIES, sys.stdout, indent=1)
print()
