import CFXABI
print("hi")
