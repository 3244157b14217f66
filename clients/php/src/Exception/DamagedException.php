<?php

declare(strict_types=1);

namespace Orbit\Client\Exception;

/** 500 damaged: a stored record cannot be read back. */
class DamagedException extends OrbitException
{
}
