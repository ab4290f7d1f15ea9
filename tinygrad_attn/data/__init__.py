"""Data for the experiments: plain NumPy, no engine code.

copy_task  the NTM copy task (random 8-bit vectors and a delimiter channel)
"""
