"""The network: parameters in plain numpy arrays, and a choice of backend to run them.

A ``Network((784, 30, 10))`` is the post's ``Network`` of ``Layer``s of ``Neuron``s with the
neurons folded into arrays: ``weights[layer][j, k]`` joins neuron k of one layer to neuron j of
the next, ``biases[layer][j]`` is neuron j's bias. The backend says how the arithmetic is done:
"loops" (the default, loops over neurons and weights compiled by numba), "python" (the same loops,
not compiled, for a debugger), "vectorized" (numpy), and the variants "loops-plain" and "strict";
``backends.BACKENDS`` is the table of what each name runs. All give the same numbers to within
rounding, so a network can switch backend at any time.
Arguments are checked here, at the public boundary (with ``neuronet.checks``); the kernels trust
what they are given.
"""
import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from .activations import ACTIVATIONS, COSTS, OUTPUTS
from .activations import cost as cost_per_sample
from .backends import BACKENDS, KEEP_ROWS
from .checks import (
    check_array,
    check_choice,
    check_count,
    check_seed,
    check_shape,
    check_step,
    non_finite,
    overflow_error,
    refuse_non_finite,
)
from .init import AUTO_INIT, INITS
from .records import Model, aligned_copy, parameters
from .rules import ADAM, SGD_RULE, Rule, settings
from .sample import Finished, SampleSteps

DTYPES = ("float64", "float32")
# predict feeds this many rows at a time, so its work arrays do not grow with the input: about
# 20 MB for 784-800-10 in float64, and numpy's products of 1,000 rows run as fast as longer ones.
PREDICT_ROWS = 1000
# the arrays a step reads: without momentum (False) and with it (True), and Adam's
TRAINED = {False: ("weights", "biases"),
           True: ("weights", "biases", "velocity_w", "velocity_b")}
ADAM_STATE = TRAINED[True] + ("squares_w", "squares_b")


class Network:
    """A fully connected feed-forward network: sigmoid, tanh or ReLU neurons.

    ``Network((2, 3, 1))`` has 2 inputs, a hidden layer of 3 neurons and 1 output neuron; its
    ``weights`` are arrays of shapes (3, 2) and (1, 3), its ``biases`` of shapes (3,) and (1,).
    The input layer has no parameters. Random numbers come only from
    ``numpy.random.default_rng(seed)``, drawn layer by layer, weights then biases.

    Parameters
    ----------
    shape : sequence of int
        Layer sizes, inputs first, at least two, each >= 1: ``(784, 30, 10)``.
    backend : str, default "loops"
        How the arithmetic is done, a name of ``neuronet.BACKENDS``: "loops" (compiled loops
        over neurons and weights), "loops-plain", "strict", "python" (uncompiled, for a
        debugger) or "vectorized" (numpy). Can be changed at any time (``net.backend = ...``).
    seed : int or None, default None
        Seed of the generator that draws the initial weights (None: fresh entropy).
    init : {"auto", "normal", "glorot", "he", "uniform"}, default "auto"
        Initial weights: "normal" N(0, 1/n_in) with N(0, 1) biases, "glorot" (uniform in
        +-sqrt(6 / (n_in + n_out))), "he" N(0, 2/n_in), "uniform" (the post's failing [0, 0.4)),
        or "auto": "normal" for the sigmoid, "glorot" for tanh, "he" for relu.
    activation : {"sigmoid", "tanh", "relu"}, default "sigmoid"
        Activation of the hidden layers.
    output : {"sigmoid", "softmax"}, default "sigmoid"
        Activation of the output layer.
    cost : {"quadratic", "cross_entropy"}, default "quadratic"
        The cost minimised ("cross-entropy" is accepted too).
    dtype : {"float64", "float32"}, default "float64"
        Float type of the parameters and of the arithmetic.

    Attributes
    ----------
    sizes : tuple of int
        The layer sizes.
    weights, biases : list of numpy.ndarray
        ``weights[layer][j, k]`` joins neuron k of one layer to neuron j of the next, shape
        (n_out, n_in); ``biases[layer][j]`` is neuron j's bias, shape (n_out,).
    velocity_w, velocity_b : list of numpy.ndarray
        Momentum's velocities (Adam's first moments), shaped like the parameters.
    squares_w, squares_b, adam_steps : list of numpy.ndarray, numpy.ndarray
        Adam's running averages of squared gradients, and its step count (int64, shape (1,)).

    Raises
    ------
    TypeError, ValueError
        If ``shape`` is not a sequence, or a size, name, seed or dtype is not one of the above.

    Examples
    --------
    >>> net = Network((784, 30, 10), seed=0)
    >>> [w.shape for w in net.weights]
    [(30, 784), (10, 30)]
    """

    weights, biases, velocity_w, velocity_b = Finished(), Finished(), Finished(), Finished()

    def __init__(self, shape: Sequence[int], *, backend: str = "loops", seed: int | None = None,
                 init: str = "auto", activation: str = "sigmoid", output: str = "sigmoid",
                 cost: str = "quadratic", dtype: str = "float64") -> None:
        try:
            sizes = tuple(shape)
        except TypeError:
            raise TypeError(f"shape must be a sequence of layer sizes such as (784, 30, 10), "
                            f"got {shape!r}") from None
        if len(sizes) < 2:
            raise ValueError(f"shape needs at least two layers (inputs and outputs), got {sizes!r}")
        self.sizes = tuple(check_count(f"shape[{i}]", n) for i, n in enumerate(sizes))
        # each layer's bias shape and weight shape (``_checked``)
        self._shapes = ([(n_out,) for n_out in self.sizes[1:]],
                        [(n_out, n_in) for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:])])
        self.backend = backend
        self.activation = check_choice("activation", activation, tuple(ACTIVATIONS))
        self.output = check_choice("output", output, OUTPUTS)
        # "cross-entropy" as well as "cross_entropy", as on the command line
        self.cost = check_choice("cost", cost.replace("-", "_") if isinstance(cost, str) else cost,
                            tuple(COSTS))
        self.dtype = np.dtype(check_choice("dtype", np.dtype(dtype).name, DTYPES))
        init = check_choice("init", init, ("auto",) + tuple(INITS))
        self.init = AUTO_INIT[self.activation] if init == "auto" else init
        make = INITS[self.init]
        rng = np.random.default_rng(check_seed(seed))
        self.weights, self.biases = [], []
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:]):
            w, b = make(rng, n_out, n_in)
            self.weights.append(aligned_copy(w.astype(self.dtype)))
            self.biases.append(aligned_copy(b.astype(self.dtype)))
        self.velocity_w = [aligned_copy(np.zeros_like(w)) for w in self.weights]
        self.velocity_b = [aligned_copy(np.zeros_like(b)) for b in self.biases]
        # Adam's state: its running averages of squared gradients, and its count of steps t
        # (an array, so the kernels count in place). The velocities hold its first moments.
        self.squares_w = [aligned_copy(np.zeros_like(w)) for w in self.weights]
        self.squares_b = [aligned_copy(np.zeros_like(b)) for b in self.biases]
        self.adam_steps = np.zeros(1, np.int64)
        # the settings of the last step taken (a rules.Settings), which save keeps
        self.rule_settings = None
        self.work = {}  # the backends' work arrays, kept between small calls
        self._samples = SampleSteps()  # train's waiting step and checked arguments

    def __repr__(self):
        return (f"Network({self.sizes}, backend={self.backend!r}, activation={self.activation!r}, "
                f"output={self.output!r}, cost={self.cost!r})")

    @property
    def backend(self) -> str:
        """The backend's name (see ``neuronet.BACKENDS``); assign another to switch."""
        return self._backend

    @backend.setter
    def backend(self, name: str) -> None:
        self._backend = check_choice("backend", name, tuple(BACKENDS))

    def parameters(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The weights and biases, checked after any assignment by the user, for the kernels.

        Returns
        -------
        weights, biases : list of numpy.ndarray
            ``net.weights`` and ``net.biases`` themselves (not copies).

        Raises
        ------
        ValueError
            If an array assigned by the user has the wrong shape or dtype, is not C-contiguous
            or is read-only; the message says how to assign it.
        """
        return self._checked("weights", self.weights), self._checked("biases", self.biases)

    def _checked(self, kind, arrays):
        """``net.<kind>`` checked the way the compiled kernels, which do not check bounds, need
        it: one array per layer, of this layer's shape and the network's dtype, C-contiguous and
        writeable. ``kind``: weights, biases, velocity_w, velocity_b, squares_w or squares_b."""
        if len(arrays) != len(self.sizes) - 1:
            raise ValueError(f"net.{kind} has {len(arrays)} arrays but the network has "
                             f"{len(self.sizes) - 1} layers of parameters")
        shapes = self._shapes[kind in ("weights", "velocity_w", "squares_w")]
        for layer, (array, shape) in enumerate(zip(arrays, shapes)):
            flags = getattr(array, "flags", None)
            if (not isinstance(array, np.ndarray) or array.shape != shape
                    or array.dtype != self.dtype or not (flags.c_contiguous and flags.writeable)):
                found = (f"{type(array).__name__} of shape {getattr(array, 'shape', None)}, "
                         f"dtype {getattr(array, 'dtype', None)}")
                if isinstance(array, np.ndarray) and not array.flags.writeable:
                    found += ", read-only"
                raise ValueError(f"net.{kind}[{layer}] must be a C-contiguous {self.dtype} "
                                 f"array of shape {shape}, writeable, got {found}; assign "
                                 f"np.array(value, dtype='{self.dtype}')")
        return arrays

    def model(self) -> Model:
        """What this network computes, as the kernels take it.

        Returns
        -------
        records.Model
            The cost, whether the output is a softmax, and the hidden activation, as codes."""
        return Model(COSTS[self.cost], self.output == "softmax", ACTIVATIONS[self.activation])

    def _feedforward(self, x):
        """The output activations for the rows of x (already checked), in a fresh array, fed
        KEEP_ROWS rows at a time: the loop kernels take each neuron's weights across all the
        rows they are given, so 60,000 rows at once would be read from memory once per neuron
        (MNIST's training set through 784-100-10: 7.2 s in one call, 2.2 s in chunks of 1,000
        rows, 1.2 s of 200), and chunks of KEEP_ROWS keep their work arrays."""
        if len(x) <= KEEP_ROWS:  # one chunk (one sample of predict, say): its outputs copied
            return self.activations(x)[-1].copy()
        out = np.empty((len(x), self.sizes[-1]), self.dtype)
        for first in range(0, len(x), KEEP_ROWS):
            out[first:first + KEEP_ROWS] = self.activations(x[first:first + KEEP_ROWS])[-1]
        return out

    def activations(self, x: np.ndarray) -> list[np.ndarray]:
        """Every layer's activations, the inputs first, for the rows of x.

        Parameters
        ----------
        x : numpy.ndarray
            Inputs already checked (``check_pair``), shape (n, n_in).

        Returns
        -------
        list of numpy.ndarray
            One (n, size) array a layer; the loop backends' are views: copy what you keep.
        """
        run = BACKENDS[self._backend]
        return run.feedforward(parameters(*self.parameters(), [], []), x, self.model(),
                               self.work)

    def predict(self, x: ArrayLike) -> np.ndarray:
        """Output activations for one sample or a batch, ``PREDICT_ROWS`` rows at a time.

        Parameters
        ----------
        x : array_like
            One sample, shape (n_in,), or a batch, shape (n, n_in), of finite numbers.

        Returns
        -------
        numpy.ndarray
            The output activations, shape (n_out,) for one sample, (n, n_out) for a batch, in
            the network's dtype.

        Raises
        ------
        ValueError
            If x has the wrong shape or is not finite, or if an output is NaN or infinite: the
            message names the cause (a parameter that is not finite, or an input so large that
            the weighted inputs overflow).

        Examples
        --------
        >>> net = Network((2, 3, 1), seed=0)
        >>> net.predict([0.5, 1.0]).shape
        (1,)
        """
        array = check_shape("x", x, self.sizes[0])
        if array.ndim == 1 or len(array) <= PREDICT_ROWS:
            x, single = check_array("x", array, self.sizes[0], self.dtype)
            a = self._outputs(x, 0)
            return a[0] if single else a
        a = np.empty((len(array), self.sizes[-1]), self.dtype)
        for first in range(0, len(array), PREDICT_ROWS):
            rows, _ = check_array("x", array[first:first + PREDICT_ROWS], self.sizes[0],
                                  self.dtype, first_row=first)
            a[first:first + PREDICT_ROWS] = self._outputs(rows, first)
        return a

    def _outputs(self, x, first_row):
        a = self._feedforward(x)
        # Outputs are in [0, 1], so their sum is finite unless one is NaN: 2 us, not isfinite's 6.
        if not math.isfinite(a.sum()):  # a parameter that is not finite, or an overflow
            row = int(np.argwhere(~np.isfinite(a))[0, 0])
            raise non_finite(self.state(), "the network's outputs are NaN") or overflow_error(
                f"x row {first_row + row} gives NaN outputs: its values", x[row], self.dtype)
        return a

    def state(self, kinds: Sequence[str] = ("weights", "biases")) -> dict[str, list]:
        """Parameter and optimizer state lists by name, as they are: the step a call of train
        left waiting is not applied, as reading ``net.weights`` would.

        Parameters
        ----------
        kinds : sequence of str, default ("weights", "biases")
            Names of lists: "weights", "biases", "velocity_w", "velocity_b", "squares_w",
            "squares_b".

        Returns
        -------
        dict of str to list of numpy.ndarray
            Each kind's list of arrays, one per layer.
        """
        arrays = vars(self)
        return {kind: arrays["_" + kind] if "_" + kind in arrays else getattr(self, kind)
                for kind in kinds}

    def checked_state(self, kind: str) -> list[np.ndarray] | np.ndarray:
        """An optimizer state list checked as the kernels take it (shapes, dtype, layout).

        Parameters
        ----------
        kind : {"velocity_w", "velocity_b", "squares_w", "squares_b", "adam_steps"}
            Which state.

        Returns
        -------
        list of numpy.ndarray or numpy.ndarray
            ``net.<kind>``, its arrays checked (``adam_steps``: one int64 array).
        """
        return self._steps() if kind == "adam_steps" else self._checked(kind, getattr(self, kind))

    def loss(self, x: ArrayLike, y: ArrayLike) -> float:
        """The cost averaged over the samples.

        Parameters
        ----------
        x, y : array_like
            Inputs, shape (n, n_in) or (n_in,), and targets, shape (n, n_out) or (n_out,).

        Returns
        -------
        float
            The mean over the samples of the network's cost (``cost``).

        Raises
        ------
        ValueError
            If x or y has the wrong shape, holds NaN or infinity, or their row counts differ.
        """
        x, y = self.check_pair(x, y)
        return float(np.mean(cost_per_sample(self._feedforward(x), y, COSTS[self.cost],
                                             self.output)))

    def gradients(self, x: ArrayLike,
                  y: ArrayLike) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The gradient of the cost averaged over the batch, by backpropagation; nothing changes.

        Parameters
        ----------
        x, y : array_like
            Inputs, shape (n, n_in) or (n_in,), and targets, shape (n, n_out) or (n_out,).

        Returns
        -------
        grad_w, grad_b : list of numpy.ndarray
            dC/dw and dC/db, one array a layer, shaped like ``weights`` and ``biases``.

        Raises
        ------
        ValueError
            If x or y has the wrong shape, holds NaN or infinity, or their row counts differ.
        """
        x, y = self.check_pair(x, y)
        return BACKENDS[self._backend].backprop(parameters(*self.parameters(), [], []), x, y,
                                                self.model())

    def train(self, x: ArrayLike, y: ArrayLike, learning_rate: float, *,
              momentum: float = 0.0, weight_decay: float = 0.0, solver: str = "sgd",
              nesterovs_momentum: bool = False, beta_1: float = 0.9, beta_2: float = 0.999,
              epsilon: float = 1e-8) -> float:
        """One SGD step on one sample, the post's ``train``.

        With the ``"loops"`` backend and SGD, the first layer's step waits for the next call,
        which applies it in the loop that forms its own weighted inputs
        (``sample.train_sample``), so a call reads and writes the largest weight matrix once, as
        a step inside ``step`` does; reading ``weights``, ``biases`` or their velocities, or any
        other use of the network, applies it first (``apply_waiting_step``). Every argument is
        checked at every call, cheaply (``sample.SampleSteps``).

        Parameters
        ----------
        x : array_like
            One sample, shape (n_in,).
        y : array_like
            Its target, shape (n_out,).
        learning_rate : float
            The step size eta, > 0.
        momentum, weight_decay, solver, nesterovs_momentum, beta_1, beta_2, epsilon
            The update rule, as in ``step``.

        Returns
        -------
        float
            The sample's cost before the step; with the default quadratic cost that is the
            post's total error 0.5 * sum((a - y)**2).

        Raises
        ------
        ValueError
            If x or y is not one finite sample of the network's sizes, or a setting is out of
            range; the message names it.

        Examples
        --------
        >>> net = Network((2, 3, 1), seed=0)
        >>> error = net.train([0.5, 1.0], [1.0], learning_rate=3.0)
        """
        samples, name = self._samples, self._backend
        step = samples.settings(check_step(learning_rate, momentum, weight_decay, solver,
                                           nesterovs_momentum, beta_1, beta_2, epsilon,
                                           cached=True))
        if samples.backend not in (None, name):
            self.apply_waiting_step()
        binding, arrays = self._binding()
        found = samples.arguments(binding, arrays, x, y)
        error = -1.0 if found is None else found(x, y, step)
        if error < 0:  # nothing changed; the full checks convert the arguments or say why
            run, (x, y) = BACKENDS[name], self._sample(x, y)
            params, model = parameters(*self._unfinished_parameters()), self.model()
            refuse_non_finite(self.state(ADAM_STATE if step.solver == ADAM else
                                         TRAINED[step.mu > 0]),
                              "training cannot go on")
            error = run.train_sample(params, x, y, step, model, self.work)
            if error < 0:
                raise AssertionError("train's kernel refused arguments its checks accepted")
            samples.keep(binding, arrays, x[0], y[0],
                         run.bind_sample(params, model, self.work, step))
        samples.backend = name
        self.rule_settings = step
        if not math.isfinite(error):  # a NaN parameter or an overflow: free to see in the cost
            raise (non_finite(self.state(ADAM_STATE), "training cannot go on (and the step "
                              "just taken has spread it)")
                   or overflow_error("train's cost is NaN or infinite: x's values", x, self.dtype))
        return error

    def _binding(self):
        """What train's arguments are made for: the backend, dtype, cost, output and
        activation, and the very parameter arrays, as they are (not through the getters); and
        those arrays."""
        arrays = self.__dict__
        parameters = (*arrays["_weights"], *arrays["_biases"], *arrays["_velocity_w"],
                      *arrays["_velocity_b"])
        return ((self._backend, self.dtype, self.cost, self.output, self.activation,
                 *parameters), parameters)

    def apply_waiting_step(self) -> None:
        """Apply the first-layer step a call of ``train`` left waiting, if one is; reading the
        parameters does this first. A bad array assigned since: ValueError, the step kept."""
        samples = self.__dict__.get("_samples")
        if samples is not None and samples.backend is not None:
            params = parameters(*self._unfinished_parameters())  # a bad array: an error, the step kept
            name, samples.backend = samples.backend, None
            BACKENDS[name].finish_sample(params, self.work)

    def _unfinished_parameters(self):
        """weights, biases, velocity_w and velocity_b checked (``_checked``), as they are: not
        through the getters, which would first apply the step waiting."""
        arrays = self.__dict__
        return [self._checked(kind, arrays["_" + kind])
                for kind in ("weights", "biases", "velocity_w", "velocity_b")]

    def step(self, x: ArrayLike, y: ArrayLike, learning_rate: float, *,
             momentum: float = 0.0, weight_decay: float = 0.0, batch_size: int | None = None,
             order: ArrayLike | None = None, solver: str = "sgd",
             nesterovs_momentum: bool = False, beta_1: float = 0.9, beta_2: float = 0.999,
             epsilon: float = 1e-8) -> None:
        """SGD over the rows of x and y in mini-batches, in place.

        The update rule has scikit-learn's names (written out in ``neuronet.rules``). Adam
        keeps its moments and its step count in the network, so steps continue from call to
        call.

        Parameters
        ----------
        x : array_like
            Inputs, shape (n, n_in).
        y : array_like
            Targets, shape (n, n_out).
        learning_rate : float
            The step size eta, > 0.
        momentum : float, default 0.0
            Momentum mu in [0, 1) (solver "sgd"): v <- mu v - eta (g + l2 w), w <- w + v.
        weight_decay : float, default 0.0
            L2 coefficient l2 >= 0 of (l2 / 2) |w|^2 added to the cost (biases not decayed).
        batch_size : int or None, default None
            Samples per step; None takes all rows in one step.
        order : array_like of int or None, default None
            Row indices in the order to visit them (a permutation, say); None: 0, 1, ..., n - 1.
        solver : {"sgd", "adam"}, default "sgd"
            The update rule.
        nesterovs_momentum : bool, default False
            Nesterov's momentum instead of the classical (solver "sgd").
        beta_1, beta_2, epsilon : float, default 0.9, 0.999, 1e-8
            Adam's decay rates of the mean gradient and mean squared gradient, in [0, 1), and
            its guard against dividing by 0, > 0.

        Raises
        ------
        ValueError
            If x, y or order do not fit the network, or a setting is out of range; the message
            names it.

        Examples
        --------
        >>> import numpy as np
        >>> net = Network((2, 3, 1), seed=0)
        >>> net.step(np.eye(2), [[0.0], [1.0]], learning_rate=0.5, batch_size=1)
        """
        eta, mu, l2, rule = check_step(learning_rate, momentum, weight_decay, solver,
                                       nesterovs_momentum, beta_1, beta_2, epsilon)
        x, y = self.check_pair(x, y)
        batch_size = check_count("batch_size", x.shape[0] if batch_size is None else batch_size)
        order = np.arange(x.shape[0]) if order is None else np.asarray(order)
        if order.ndim != 1 or order.dtype.kind not in "iu" or (
                order.size and (order.min() < 0 or order.max() >= x.shape[0])):
            # The compiled kernels do not check bounds: a bad index would read foreign memory.
            raise ValueError(f"order must be a 1-D array of row indices from 0 to {x.shape[0] - 1},"
                             f" got dtype {order.dtype}, shape {order.shape}")
        # A batch larger than the rows is all of them, and then fits the kernels' 64-bit ints.
        batch_size = min(batch_size, max(len(order), 1))
        self.sgd_epoch(x, y, eta, mu, l2, batch_size, order.astype(np.int64, copy=False),
                       rule=rule)

    def sgd_epoch(self, x: np.ndarray, y: np.ndarray, eta: float, mu: float, l2: float,
                  batch_size: int, order: np.ndarray, masks: list[np.ndarray] | None = None,
                  rule: Rule = SGD_RULE) -> np.ndarray:
        """``step`` with its arguments already checked, for training loops that check x and y
        once (``check_pair``, ``checks.check_step``), not at every chunk.

        Parameters
        ----------
        x, y, eta, mu, l2, batch_size, order
            As ``step`` takes them, checked: arrays from ``check_pair``, int64 ``order``.
        masks : list of numpy.ndarray or None, default None
            Dropout masks, one (n, size) array per layer below the output, as in
            ``loops.sgd_epoch``: 0 drops a neuron, 1/(1 - rate) keeps it.
        rule : rules.Rule, default SGD
            The update rule, as ``checks.check_rule`` returns it.

        Returns
        -------
        numpy.ndarray
            The last mini-batch's outputs from its forward pass, before its step (a view: copy
            what you keep).
        """
        weights, biases = self.parameters()
        v_w, v_b = (self._checked("velocity_w", self.velocity_w),
                    self._checked("velocity_b", self.velocity_b))
        adam = None
        if rule.solver == ADAM:
            adam = (self._checked("squares_w", self.squares_w),
                    self._checked("squares_b", self.squares_b), self._steps())
        # What the rule reads must be finite, or the steps spread NaN through the network.
        refuse_non_finite(self.state(ADAM_STATE if adam else TRAINED[mu > 0]),
                          "training cannot go on")
        self.rule_settings = step = settings(eta, mu, l2, rule, self.dtype)
        return BACKENDS[self._backend].sgd_epoch(
            parameters(weights, biases, v_w, v_b, adam), x, y, order, batch_size, step,
            self.model(), masks, self.work)

    def _steps(self):
        """``adam_steps`` checked: a one-element int64 array, which the kernels count in."""
        steps = self.adam_steps
        if not (isinstance(steps, np.ndarray) and steps.shape == (1,) and steps.dtype == np.int64
                and steps.flags.writeable and steps[0] >= 0):
            raise ValueError(f"net.adam_steps must be a writeable int64 array of shape (1,) "
                             f"holding Adam's step count >= 0, got {steps!r}; assign "
                             "np.zeros(1, np.int64) to start Adam afresh")
        return steps

    def _sample(self, x, y):
        """x and y checked (``check_pair``), one sample each, for ``train``."""
        x, y = self.check_pair(x, y)
        if x.shape[0] != 1:
            raise ValueError(f"train takes one sample, x of shape ({self.sizes[0]},), got "
                             f"{x.shape[0]} rows; use fit for mini-batches")
        return x, y

    def check_pair(self, x: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """x and y checked and converted as this network takes them.

        Parameters
        ----------
        x, y : array_like
            Inputs, shape (n, n_in) or (n_in,), and targets, shape (n, n_out) or (n_out,).

        Returns
        -------
        x, y : numpy.ndarray
            2-D C-contiguous arrays of the network's dtype, one row a sample.

        Raises
        ------
        ValueError
            If a shape does not fit the network, a value is NaN or infinite, or the row counts
            differ.
        """
        x, _ = check_array("x", x, self.sizes[0], self.dtype)
        y, _ = check_array("y", y, self.sizes[-1], self.dtype)
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"x has {x.shape[0]} samples but y has {y.shape[0]}; give one target "
                             "row per input row")
        return x, y
