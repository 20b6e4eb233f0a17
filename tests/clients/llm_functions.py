# The tool `llm --functions tests/clients/llm_functions.py` offers the model (tests/test_real_clients.py).


def get_weather(city: str) -> str:
    """Get the current weather for a city"""
    return '{"temp_c": 18, "sky": "cloudy"}'
