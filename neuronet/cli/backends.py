"""``neuronet backends``: which functions run a step of each backend, by batch size and rule."""
from ..backends import table


def run_backends(args):
    """Print, for every backend, which kernel functions run an SGD step at batch 1 and at batch
    n for each update rule (sgd is momentum 0): the same table ``neuronet.backends.describe``
    returns, which the tests check against what runs."""
    print(table())
    return 0
