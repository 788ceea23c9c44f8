import sys

from workflows.retail.workflow import main

sys.exit(main())
