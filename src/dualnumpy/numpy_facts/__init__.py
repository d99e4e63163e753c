"""Facts about NumPy that are not calculus, shared by the forward tables, the
interpreter and the independent reverse reference: how a function's arguments
bind to its signature, its public name, where tests may sample a rule, and
which functions only move elements.
"""
