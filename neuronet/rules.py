r"""The update rules, each written once as a function of one weight, by scikit-learn's names.

With g the gradient of the cost at weight w and l2 the weight decay (biases: no l2), learning
rate eta:

    solver="sgd", momentum 0               w <- w - eta (g + l2 w)                      (``sgd``)
    solver="sgd"                           v <- mu v - eta (g + l2 w),   w <- w + v     (``momentum``)
    solver="sgd", nesterovs_momentum=True  v <- mu v - eta (g + l2 w),
                                           w <- w + mu v - eta (g + l2 w)               (``nesterov``)
    solver="adam"  (Kingma and Ba 2015; t counts the steps from 1)                     (``adam``)
                   m <- beta_1 m + (1 - beta_1) g,   s <- beta_2 s + (1 - beta_2) g^2,
                   w <- w - eta_t m / (sqrt(s) + epsilon),
                   eta_t = eta sqrt(1 - beta_2^t) / (1 - beta_1^t)                      (``adam_rate``)

Momentum 0 makes the first two plain SGD, and then the velocity is neither read nor written.
Nesterov's form is scikit-learn's (Sutskever et al. 2013, written for the parameters w + mu v
that the step looks ahead to). Adam's m sits in the network's velocities, s in its ``squares``.
Its bias correction (the 1 - beta^t in eta_t) makes up for m and s starting at zero, which would
make the first steps too short. This is the paper's Algorithm 1 in the cheaper order its section
2 gives, as scikit-learn and Keras write it: the same but for where epsilon acts (their epsilon is
the paper's epsilon-hat; PyTorch's Adam adds epsilon to sqrt(s / (1 - beta_2^t)) instead), so
NeuronetClassifier takes the steps of MLPClassifier.

Every kernel steps its weights through ``step_row`` (a row of weights) or ``step_one`` (one
weight, such as a bias), the one table from a rule's code to its function. Adding a rule, say
RMSprop, takes a function of one weight here, its code in ``SOLVERS`` and a branch in those two
(the table), and its tests (``tests/test_rules.py`` against ``tests/reference.py``).
"""
import math
from typing import NamedTuple

from numba.extending import register_jitable

SGD, NESTEROV, ADAM = 0, 1, 2
SOLVERS = ("sgd", "adam")


class Rule(NamedTuple):
    """An update rule as ``Network.step`` takes it: its code and Adam's settings."""
    solver: int = SGD
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-8


SGD_RULE = Rule()  # SGD, with or without momentum (what a rule defaults to)


class Settings(NamedTuple):
    """One step's settings as the kernels take them, every number in the arrays' dtype.

    ``rate`` is the learning rate the rule applies at this step: eta, or for Adam its
    bias-corrected eta_t (``at_step``)."""
    eta: float
    mu: float
    l2: float
    solver: int
    beta_1: float
    beta_2: float
    epsilon: float
    rate: float


def settings(eta, mu, l2, rule, dtype):
    """The kernels' ``Settings`` for learning rate eta, momentum mu, weight decay l2 and ``rule``
    (a ``Rule``), in ``dtype``: a Python float would turn float32 sums into float64 ones."""
    scalar = dtype.type
    return Settings(scalar(eta), scalar(mu), scalar(l2), rule.solver, scalar(rule.beta_1),
                    scalar(rule.beta_2), scalar(rule.epsilon), scalar(eta))


@register_jitable
def adam_rate(step, t):
    r"""Adam's bias-corrected learning rate at step t: eta sqrt(1 - beta_2^t) / (1 - beta_1^t)."""
    return step.eta * math.sqrt(1 - step.beta_2 ** t) / (1 - step.beta_1 ** t)


@register_jitable
def at_step(step, t, like):
    """``step`` with its ``rate`` for the step numbered t (from 1): Adam's eta_t, else eta, in
    the dtype of the array ``like``."""
    rate = adam_rate(step, t) if step.solver == ADAM else step.eta
    return Settings(step.eta, step.mu, step.l2, step.solver, step.beta_1, step.beta_2,
                    step.epsilon, like.dtype.type(rate))


@register_jitable
def sgd(w, g, eta, l2):
    r"""Plain SGD: w - eta (g + l2 w)."""
    return w - eta * (g + l2 * w)


@register_jitable
def momentum(w, v, g, eta, mu, l2):
    r"""Classical momentum: v <- mu v - eta (g + l2 w), w <- w + v; returns (w, v)."""
    v = mu * v - eta * (g + l2 * w)
    return w + v, v


@register_jitable
def nesterov(w, v, g, eta, mu, l2):
    r"""Nesterov's momentum: v <- mu v - eta (g + l2 w), w <- w + mu v - eta (g + l2 w) (the new
    v); returns (w, v)."""
    change = -eta * (g + l2 * w)
    v = mu * v + change
    return w + mu * v + change, v


@register_jitable
def adam(w, m, s, g, rate, l2, beta_1, beta_2, epsilon):
    r"""Adam at the bias-corrected rate eta_t (``adam_rate``), with g + l2 w for the gradient:
    m <- beta_1 m + (1 - beta_1) g, s <- beta_2 s + (1 - beta_2) g^2,
    w <- w - eta_t m / (sqrt(s) + epsilon); returns (w, m, s)."""
    g = g + l2 * w
    # beta m + (1 - beta) g as g + beta (m - g): no literal 1, which would make float32 sums
    # float64 ones
    m = g + beta_1 * (m - g)
    s = g * g + beta_2 * (s - g * g)
    return w - rate * m / (math.sqrt(s) + epsilon), m, s


@register_jitable
def step_row(w, v, s, g, step, l2):
    r"""One step of ``step``'s rule on every weight of a row w, its velocities v (Adam: first
    moments) and Adam's second moments s, with gradients g and weight decay l2 (0 for biases).

    The rule is chosen once a row, outside the loop over k, so each loop vectorizes: with the
    choice inside, LLVM compiled row loops at up to half the speed they reach alone.
    """
    eta, mu = step.rate, step.mu
    if step.solver == ADAM:
        for k in range(w.shape[0]):
            w[k], v[k], s[k] = adam(w[k], v[k], s[k], g[k], eta, l2, step.beta_1, step.beta_2,
                                    step.epsilon)
    elif step.solver == NESTEROV:
        for k in range(w.shape[0]):
            w[k], v[k] = nesterov(w[k], v[k], g[k], eta, mu, l2)
    elif mu == 0:  # plain SGD: the velocity is neither read nor written
        for k in range(w.shape[0]):
            w[k] = sgd(w[k], g[k], eta, l2)
    else:
        for k in range(w.shape[0]):
            w[k], v[k] = momentum(w[k], v[k], g[k], eta, mu, l2)


@register_jitable
def step_one(w, v, s, j, g, step):
    r"""One step of ``step``'s rule on w[j] alone (a bias: no weight decay), gradient g."""
    zero = step.l2 - step.l2
    if step.solver == ADAM:
        w[j], v[j], s[j] = adam(w[j], v[j], s[j], g, step.rate, zero, step.beta_1, step.beta_2,
                                step.epsilon)
    elif step.solver == NESTEROV:
        w[j], v[j] = nesterov(w[j], v[j], g, step.rate, step.mu, zero)
    elif step.mu == 0:
        w[j] = sgd(w[j], g, step.rate, zero)
    else:
        w[j], v[j] = momentum(w[j], v[j], g, step.rate, step.mu, zero)
