"""neuronet: backpropagation as per-neuron loops compiled with numba, and its numpy twin."""
