"""The notebook face: the %%puter / %puter magics, their commands, displays and progress bars."""
