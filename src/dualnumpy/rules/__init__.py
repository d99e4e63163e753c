"""The calculus as tables: ufuncs, NumPy functions, and the kinds that apply them."""
