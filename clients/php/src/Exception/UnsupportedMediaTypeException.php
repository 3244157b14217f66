<?php

declare(strict_types=1);

namespace Orbit\Client\Exception;

/** 415 unsupported_media_type: a body not declared as application/json. */
class UnsupportedMediaTypeException extends OrbitException
{
}
