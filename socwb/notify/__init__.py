"""Notifications: channel settings, channels, message text, delivery records and the dispatcher.

The package imports no submodule on purpose: `socwb.settings` imports
`socwb.notify.config`, and the other submodules import the search layer, which
imports `socwb.settings`.
"""
