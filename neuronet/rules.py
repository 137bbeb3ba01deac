r"""The update rules, by the names scikit-learn's ``MLPClassifier`` gives them.

With g = grad + l2 w the gradient of the cost and its L2 term (biases: no l2), learning rate eta:

    solver="sgd"                           v <- mu v - eta g,   w <- w + v
    solver="sgd", nesterovs_momentum=True  v <- mu v - eta g,   w <- w + mu v - eta g
    solver="adam"  (Kingma and Ba 2015; t counts the steps from 1)
                   m <- beta_1 m + (1 - beta_1) g,   s <- beta_2 s + (1 - beta_2) g^2,
                   w <- w - eta_t m / (sqrt(s) + epsilon),
                   eta_t = eta sqrt(1 - beta_2^t) / (1 - beta_1^t)

Momentum 0 makes the first two plain SGD, w <- w - eta g. Nesterov's form is scikit-learn's
(Sutskever et al. 2013, written for the parameters w + mu v that the step looks ahead to).
Adam's m sits in the network's velocities, s in its ``squares``. Its bias correction (the
1 - beta^t in eta_t) makes up for m and s starting at zero, which would make the first steps too
short. This is the paper's Algorithm 1 in the cheaper order its section 2 gives, as scikit-learn
and Keras write it: the same but for where epsilon acts (their epsilon is the paper's
epsilon-hat; PyTorch's Adam adds epsilon to sqrt(s / (1 - beta_2^t)) instead), so
NeuronetClassifier takes the steps of MLPClassifier.

The kernels take a rule as ``Rule`` (a small tuple numba compiles against): its ``solver`` is
one of the codes below.
"""
from typing import NamedTuple

SGD, NESTEROV, ADAM = 0, 1, 2
SOLVERS = ("sgd", "adam")


class Rule(NamedTuple):
    solver: int = SGD
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-8


SGD_RULE = Rule()  # SGD, with or without momentum (what a rule defaults to)
