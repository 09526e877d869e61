"""GRPO training of the guard: the data set, the arguments, the SFT warm-up, GRPO and evaluation.

Everything that needs torch, transformers or TRL imports it inside its module, so importing the
package from the web process stays cheap: import `dataset` or `args` there, never `grpo`.
"""
