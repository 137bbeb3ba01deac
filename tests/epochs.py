"""One epoch of a backend on a ``Network``'s arrays, as the tests call the backends directly."""
import numpy as np

from neuronet.records import parameters
from neuronet.rules import SGD_RULE, settings


def epoch(backend, net, x, y, order, batch_size, eta, mu, l2, masks=None, rule=SGD_RULE,
          work=None):
    """``backend.sgd_epoch`` on net's parameters (its cost, output and activation), in place;
    returns what it returns."""
    adam = (net.squares_w, net.squares_b, net.adam_steps) if rule.solver == 2 else None
    params = parameters(net.weights, net.biases, net.velocity_w, net.velocity_b, adam)
    return backend.sgd_epoch(params, x, y, np.asarray(order, np.int64), batch_size,
                             settings(eta, mu, l2, rule, np.dtype(x.dtype)), net.model(), masks,
                             {} if work is None else work)
