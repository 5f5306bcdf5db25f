# SPDX-License-Identifier: GPL-3.0-or-later
"""Stand-in for the pip bootstrap script that ansible-test downloads from a host this lab cannot reach.

ansible-test runs its cached get-pip script inside each new sanity venv with pip-install arguments
(``pip==24.2 setuptools wheel`` plus options). This does the same with the standard library's ensurepip
and the package index: bootstrap the bundled pip, then let it install what ansible-test asked for.
tools/sanity copies it to ~/.ansible/test/cache/get_pip_<version>.py when that file is missing.
"""

import ensurepip
import os
import subprocess
import sys

# get-pip's own switches (pip install does not know them): they only say what not to add.
OWN_SWITCHES = ('--no-setuptools', '--no-wheel')

# ensurepip points PIP_CONFIG_FILE at /dev/null in this process; the real install must see the
# machine's pip configuration (index, CA bundle), so it gets the environment as it was.
ENVIRONMENT = dict(os.environ)
ensurepip.bootstrap(upgrade=True)
ARGS = [arg for arg in sys.argv[1:] if arg not in OWN_SWITCHES]
sys.exit(subprocess.call([sys.executable, '-m', 'pip', 'install'] + ARGS, env=ENVIRONMENT))
