<?php

declare(strict_types=1);

namespace Orbit\Client\Exception;

/** 401 unauthorized: the sidecar has a --token and the request lacked it or had another. */
class UnauthorizedException extends OrbitException
{
}
