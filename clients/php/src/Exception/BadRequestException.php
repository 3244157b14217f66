<?php

declare(strict_types=1);

namespace Orbit\Client\Exception;

/** 400 bad_request: a body, id, wait, limit, status or cursor the API cannot take. */
class BadRequestException extends OrbitException
{
}
