// Package fastapi holds the test that runs the FastAPI Chat API
// (chat_api.py) with its own daprd beside the functions. It has no Go code
// of its own.
package fastapi
