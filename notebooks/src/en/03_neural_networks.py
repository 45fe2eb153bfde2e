# %% [markdown]
# # 3. Neural networks and the neuron
#
# An artificial neuron multiplies each input xᵢ by a weight wᵢ, adds a bias b and applies an
# **activation** f:  y = f(Σ xᵢwᵢ + b). A network is many neurons in layers; training is
# nudging the weights so that the output gets closer to the answer (gradient descent).
#
# This notebook computes one neuron by hand, draws the activations, and trains a tiny
# network on XOR, the problem one neuron alone cannot solve. The terminal twins:
# `attento neuron` and `attento nn-demo`.

# %%
import matplotlib.pyplot as plt
import numpy as np

x = np.array([0.5, -1.0, 2.0])  # inputs (the dendrites)
w = np.array([0.8, 0.2, -0.5])  # weights (the synapses)
b = 0.1
z = x @ w + b
print("products", x * w, "sum + bias z =", round(float(z), 3))
print("step (fires?)", int(z > 0), " sigmoid", round(float(1 / (1 + np.exp(-z))), 3))

# %% [markdown]
# ## Activations
# The brain's neuron is "all or nothing", a step. A step has no useful slope, so gradient
# descent cannot tell which way to move a weight: networks use smooth functions instead.

# %%
z = np.linspace(-4, 4, 400)
activations = {
    "step": (z > 0).astype(float),
    "sigmoid": 1 / (1 + np.exp(-z)),
    "tanh": np.tanh(z),
    "ReLU": np.maximum(0, z),
    "GELU": 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z**3))),
}
fig, ax = plt.subplots(figsize=(6, 3.5))
for name, y in activations.items():
    ax.plot(z, y, label=name)
ax.axhline(0, color="grey", lw=0.5)
ax.set_xlabel("z = Σ xw + b")
ax.set_ylabel("f(z)")
ax.set_ylim(-1.2, 2.5)
ax.legend()
ax.set_title("Activation functions")
plt.show()

# %% [markdown]
# ## XOR: one neuron is not enough
# XOR is 1 when exactly one input is 1. No single straight line separates its two classes,
# but two layers can. Below, a network 2 → 8 → 1 learns it with gradients written by hand
# (backpropagation is the chain rule, applied layer by layer).

# %%
X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
Y = np.array([[0], [1], [1], [0]], dtype=float)
rng = np.random.default_rng(0)
W1, b1 = rng.normal(0, 1, (2, 8)), np.zeros(8)
W2, b2 = rng.normal(0, 1, (8, 1)), np.zeros(1)
lr, losses = 0.5, []
for _ in range(2000):
    h = np.tanh(X @ W1 + b1)  # hidden layer
    p = 1 / (1 + np.exp(-(h @ W2 + b2)))  # output neuron, a probability
    losses.append(float(np.mean(-(Y * np.log(p) + (1 - Y) * np.log(1 - p)))))
    dlogit = (p - Y) / len(X)  # gradient of the cross-entropy through the sigmoid
    dW2, db2 = h.T @ dlogit, dlogit.sum(0)
    dh = dlogit @ W2.T * (1 - h**2)  # back through tanh
    dW1, db1 = X.T @ dh, dh.sum(0)
    W1, b1, W2, b2 = W1 - lr * dW1, b1 - lr * db1, W2 - lr * dW2, b2 - lr * db2
print("predictions", p.ravel().round(3), "targets", Y.ravel())

# %%
grid = np.linspace(-0.5, 1.5, 200)
gx, gy = np.meshgrid(grid, grid)
points = np.c_[gx.ravel(), gy.ravel()]
out = 1 / (1 + np.exp(-(np.tanh(points @ W1 + b1) @ W2 + b2)))
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
ax1.plot(losses)
ax1.set_xlabel("step")
ax1.set_ylabel("loss (cross-entropy)")
ax1.set_title("Learning XOR")
ax2.contourf(gx, gy, out.reshape(gx.shape), levels=20, cmap="coolwarm")
ax2.scatter(X[:, 0], X[:, 1], c=Y.ravel(), cmap="coolwarm", edgecolors="k", s=80)
ax2.set_title("What the network learned")
plt.show()

# %% [markdown]
# ## Exercises
# 1. Change the neuron's weights so that it fires for x = [0.5, −1, 2]. Which weight has the
#    biggest effect, and why?
# 2. Replace `np.tanh` in the hidden layer by ReLU (remember to change its derivative).
#    Does XOR still train?
# 3. Use 1 hidden neuron instead of 8. What happens, and why?
# 4. Try learning rates 0.05 and 5. Plot the loss curves side by side.
# 5. From the terminal: `attento neuron --inputs 1,0 --weights 0.6,0.6 --bias -0.5` and
#    `attento nn-demo`.
