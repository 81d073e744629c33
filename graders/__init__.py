"""Grading kit for the Keras lesson "Solving MNIST with a Convolutional Neural Network"."""

__version__ = "0.1.0"
