// The shared-library product: CFXABI plus the static Swift runtime (see Package.swift).
@_exported import CFXABI
